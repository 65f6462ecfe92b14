// Guard pages, after Microsoft's "Creating Guard Pages": the first access to a guard page
// raises STATUS_GUARD_PAGE_VIOLATION and clears the guard; the access, retried, succeeds.
// (The documentation's prose, as a program; __try/__except replaced by a vectored handler.)

#include <windows.h>
#include <stdio.h>

static int guard_hits = 0;

LONG WINAPI OnGuard(PEXCEPTION_POINTERS info)
{
    if (info->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION)
    {
        guard_hits++;
        printf("Guard page violation at %p (%s).\n",
               (void *)info->ExceptionRecord->ExceptionInformation[1],
               info->ExceptionRecord->ExceptionInformation[0] ? "write" : "read");
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

int main(void)
{
    SYSTEM_INFO si;
    MEMORY_BASIC_INFORMATION mbi;
    char *p;

    GetSystemInfo(&si);
    p = (char *)VirtualAlloc(NULL, si.dwPageSize, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    if (p == NULL)
    {
        printf("VirtualAlloc failed with %lu.\n", (unsigned long)GetLastError());
        return 1;
    }
    VirtualQuery(p, &mbi, sizeof(mbi));
    printf("Before: Protect = 0x%lx\n", (unsigned long)mbi.Protect);

    AddVectoredExceptionHandler(1, OnGuard);
    p[0] = 'G';      // raises the guard page exception once, then writes
    p[1] = 'P';      // no exception: the guard is gone
    VirtualQuery(p, &mbi, sizeof(mbi));
    printf("After: Protect = 0x%lx, guard exceptions = %d, data = %c%c\n",
           (unsigned long)mbi.Protect, guard_hits, p[0], p[1]);

    VirtualFree(p, 0, MEM_RELEASE);
    return 0;
}

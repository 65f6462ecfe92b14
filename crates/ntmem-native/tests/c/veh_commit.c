// A vectored handler that commits the page and continues makes the instruction succeed; the
// record is F95's: code, NumberParameters 2, [0] 1 for a write, [1] the address.
#include <windows.h>
#include <stdio.h>

static char *base;
static int calls;
static DWORD code;
static ULONG_PTR kind, where, params;

LONG WINAPI Commit(PEXCEPTION_POINTERS info)
{
    calls++;
    code = info->ExceptionRecord->ExceptionCode;
    params = info->ExceptionRecord->NumberParameters;
    kind = info->ExceptionRecord->ExceptionInformation[0];
    where = info->ExceptionRecord->ExceptionInformation[1];
    if (VirtualAlloc((LPVOID)(where & ~(ULONG_PTR)0xFFF), 0x1000, MEM_COMMIT, PAGE_READWRITE) == NULL)
        return EXCEPTION_CONTINUE_SEARCH;
    return EXCEPTION_CONTINUE_EXECUTION;
}

int main(void)
{
    base = (char *)VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    PVOID h = AddVectoredExceptionHandler(1, Commit);
    base[0x2345] = 42;
    int ok = base[0x2345] == 42;
    printf("calls=%d code=0x%lx params=%lu kind=%lu offset=0x%lx ok=%d\n", calls, (unsigned long)code,
           (unsigned long)params, (unsigned long)kind, (unsigned long)(where - (ULONG_PTR)base), ok);
    ULONG removed = RemoveVectoredExceptionHandler(h);
    ULONG again = RemoveVectoredExceptionHandler(h);
    printf("removed=%lu again=%lu\n", (unsigned long)removed, (unsigned long)again);
    return 0;
}

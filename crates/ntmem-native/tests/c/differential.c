// The differential suite's program: the same scenarios tests/differential.rs runs through
// Kernel32 on the simulated engine, printed the same way (VirtualQuery results, bytes, write
// watch, page fault counts), so the two transcripts can be compared line for line.
#include <windows.h>
#include <psapi.h>
#include <stdio.h>

static int guards;

static LONG WINAPI Guard(PEXCEPTION_POINTERS info)
{
    if (info->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION) {
        guards++;
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

static void q(const char *name, void *p)
{
    MEMORY_BASIC_INFORMATION m;
    SIZE_T n = VirtualQuery(p, &m, sizeof m);
    printf("Q %s n=%zu base=%llx ab=%llx ap=%x size=%llx state=%x prot=%x type=%x\n", name, n,
           (unsigned long long)(ULONG_PTR)m.BaseAddress, (unsigned long long)(ULONG_PTR)m.AllocationBase,
           m.AllocationProtect, (unsigned long long)m.RegionSize, m.State, m.Protect, m.Type);
}

static DWORD faults(void)
{
    PROCESS_MEMORY_COUNTERS c;
    GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c);
    return c.PageFaultCount;
}

int main(void)
{
    DWORD old = 0, f0 = faults();
    // Allocation.
    char *p = (char *)VirtualAlloc(NULL, 0x3000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    q("alloc", p);
    p[0] = 1;
    p[0x2000] = 2;
    int b0 = p[0];
    int b1 = p[0x1000];
    int b2 = p[0x2000];
    DWORD fa = faults() - f0;
    printf("B alloc %d %d %d faults=%lu\n", b0, b1, b2, (unsigned long)fa);
    // Protection.
    BOOL ok = VirtualProtect(p + 0x1000, 0x1000, PAGE_READONLY, &old);
    printf("P protect ok=%d old=%x\n", ok, old);
    q("protected", p + 0x1000);
    q("after", p + 0x2000);
    // Guard pages.
    AddVectoredExceptionHandler(1, Guard);
    char *g = (char *)VirtualAlloc(NULL, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    q("guard", g);
    volatile char c = g[0];
    (void)c;
    printf("G guards=%d\n", guards);
    q("guard-fired", g);
    q("guard-next", g + 0x1000);
    // Write watch.
    char *w = (char *)VirtualAlloc(NULL, 0x4000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    w[0x1000] = 1;
    w[0x3000] = 1;
    PVOID addrs[8];
    ULONG_PTR count = 8;
    DWORD gran = 0;
    UINT r = GetWriteWatch(WRITE_WATCH_FLAG_RESET, w, 0x4000, addrs, &count, &gran);
    printf("W r=%u count=%lu gran=%lu", r, (unsigned long)count, (unsigned long)gran);
    for (ULONG_PTR i = 0; i < count; i++)
        printf(" %llx", (unsigned long long)((char *)addrs[i] - w));
    printf("\n");
    // Sections and copy-on-write.
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x2000, NULL);
    char *v1 = (char *)MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    char *v2 = (char *)MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0);
    q("view", v1);
    q("copy-view", v2);
    v1[0] = 'A';
    printf("S shared %c\n", v2[0]);
    v2[0] = 'B';
    char c1 = v1[0];
    char c2 = v2[0];
    printf("S copied %c %c\n", c1, c2);
    q("copied", v2);
    q("copy-rest", v2 + 0x1000);
    UnmapViewOfFile(v2);
    UnmapViewOfFile(v1);
    CloseHandle(h);
    // Release.
    VirtualFree(p, 0, MEM_RELEASE);
    q("released", p);
    printf("F faults=%lu\n", (unsigned long)(faults() - f0));
    return 0;
}

// The differential suite's paging scenario: 32 MiB written and read back on a machine of
// 16 MiB of RAM and a 64 MiB page file (NTMEM_RAM, NTMEM_PAGE_FILE), so pages go out to the
// page file and come back by hard and soft faults.
#include <windows.h>
#include <psapi.h>
#include <stdio.h>

#define PAGES 8192

int main(void)
{
    PROCESS_MEMORY_COUNTERS c;
    char *p = (char *)VirtualAlloc(NULL, (SIZE_T)PAGES * 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (p == NULL) {
        printf("VirtualAlloc failed with %lu\n", (unsigned long)GetLastError());
        return 1;
    }
    for (int i = 0; i < PAGES; i++)
        *(int *)(p + (SIZE_T)i * 4096) = i * 7 + 1;
    long long sum = 0;
    int wrong = 0;
    for (int i = 0; i < PAGES; i++) {
        int v = *(int *)(p + (SIZE_T)i * 4096);
        sum += v;
        wrong += v != i * 7 + 1;
    }
    GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c);
    printf("sum=%lld wrong=%d faults=%lu ws=%llu peak=%llu\n", sum, wrong, (unsigned long)c.PageFaultCount,
           (unsigned long long)c.WorkingSetSize, (unsigned long long)c.PeakWorkingSetSize);
    return 0;
}

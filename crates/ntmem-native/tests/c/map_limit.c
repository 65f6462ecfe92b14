/* Touches 2 MiB page by page, then reads every page back: with a host limit on mappings far
   below 512 pages, the engine must trim its working set instead of failing. */
#include <windows.h>
#include <stdio.h>

int main(void)
{
    SIZE_T size = 2 * 1024 * 1024, i;
    unsigned char *p = VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    unsigned long sum = 0;
    if (p == NULL) {
        printf("VirtualAlloc failed: %lu\n", (unsigned long)GetLastError());
        return 1;
    }
    for (i = 0; i < size; i += 4096)
        p[i] = (unsigned char)(i / 4096);
    for (i = 0; i < size; i += 4096)
        sum += p[i];
    printf("sum %lu\n", sum);
    return 0;
}

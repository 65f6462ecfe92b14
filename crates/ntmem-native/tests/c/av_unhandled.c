// A program that faults for real: nobody handles the access violation, so the process ends
// with Windows' report and the exception code.
#include <windows.h>
#include <stdio.h>

int main(void)
{
    char *p = (char *)VirtualAlloc(NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    printf("reserved %p\n", (void *)p);
    fflush(stdout);
    p[16] = 1;
    printf("not reached\n");
    return 0;
}

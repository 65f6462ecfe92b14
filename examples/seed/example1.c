#include <windows.h>
#include <stdio.h>

int main()
{
    LPVOID lpvBase;

    lpvBase = VirtualAlloc(NULL, 8, MEM_COMMIT, PAGE_READWRITE);
    printf("The base address of allocated memory is: %x\n", lpvBase);

    return 0;
}
#include <windows.h>
#include <stdio.h>
#include <string.h>

int main()
{
    LPVOID lpvBase;

    lpvBase = VirtualAlloc(NULL, 8, MEM_COMMIT, PAGE_READWRITE);
    printf("The base address of allocated memory is: %x\n", lpvBase);

    memmove(lpvBase, "1337", 4);
    printf("The data which is stored in the memory is %s\n", lpvBase);

    VirtualFree(lpvBase, 0, MEM_RELEASE);

    return 0;
}
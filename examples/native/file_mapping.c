// A file mapping written through a view and read back from the file, after Microsoft's
// "Creating a File Mapping Object" and "Creating a File View" (memory-mapped files).

#include <windows.h>
#include <stdio.h>
#include <string.h>

#define BUF_SIZE 4096

int main(int argc, char *argv[])
{
    const char *name = argc > 1 ? argv[1] : "ntmem-file-mapping.txt";
    const char *msg = "Message from first process.";
    HANDLE hFile, hMapFile;
    LPVOID pBuf;
    char back[64];
    DWORD read = 0;

    hFile = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (hFile == INVALID_HANDLE_VALUE)
    {
        printf("Could not create file (%lu).\n", (unsigned long)GetLastError());
        return 1;
    }

    hMapFile = CreateFileMapping(hFile, NULL, PAGE_READWRITE, 0, BUF_SIZE, NULL);
    if (hMapFile == NULL)
    {
        printf("Could not create file mapping object (%lu).\n", (unsigned long)GetLastError());
        return 1;
    }

    pBuf = MapViewOfFile(hMapFile, FILE_MAP_ALL_ACCESS, 0, 0, BUF_SIZE);
    if (pBuf == NULL)
    {
        printf("Could not map view of file (%lu).\n", (unsigned long)GetLastError());
        CloseHandle(hMapFile);
        return 1;
    }

    CopyMemory(pBuf, msg, strlen(msg));
    FlushViewOfFile(pBuf, 0);
    UnmapViewOfFile(pBuf);
    CloseHandle(hMapFile);
    CloseHandle(hFile);

    hFile = CreateFileA(name, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (hFile == INVALID_HANDLE_VALUE || !ReadFile(hFile, back, (DWORD)strlen(msg), &read, NULL))
    {
        printf("Could not read the file back (%lu).\n", (unsigned long)GetLastError());
        return 1;
    }
    back[read] = 0;
    CloseHandle(hFile);
    printf("Read back from the file: %s\n", back);
    return 0;
}

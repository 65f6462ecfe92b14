// An image section through the C ABI (F206): a size up to the image's is taken, a larger one
// is refused with Windows' error, and the view of a 42-byte section maps the whole image with
// MEM_IMAGE. argv[1] is a PE DLL whose SizeOfImage is 0x8000.
#include <windows.h>
#include <stdio.h>

#define CHECK(cond, what) do { if (!(cond)) { printf("FAIL %s (last error %lu)\n", what, (unsigned long)GetLastError()); return 1; } } while (0)

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: image_section FILE.dll");
    HANDLE f = CreateFileA(argv[1], GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(f != INVALID_HANDLE_VALUE, "CreateFileA");

    SetLastError(0);
    CHECK(CreateFileMappingA(f, NULL, SEC_IMAGE | PAGE_READONLY, 0, 0x8001, NULL) == NULL && GetLastError() == ERROR_NOT_ENOUGH_MEMORY,
          "an image section larger than the image, read-only");
    SetLastError(0);
    CHECK(CreateFileMappingA(f, NULL, SEC_IMAGE | PAGE_EXECUTE_READ, 0xFFFFFFFF, 0xFFFFFFFF, NULL) == NULL && GetLastError() == ERROR_NOT_ENOUGH_MEMORY,
          "an image section of size -1");
    SetLastError(0);
    CHECK(CreateFileMappingA(f, NULL, SEC_IMAGE | PAGE_READWRITE, 0, 0x8001, NULL) == NULL && GetLastError() == ERROR_OUTOFMEMORY,
          "an image section larger than the image, read-write");

    HANDLE h = CreateFileMappingA(f, NULL, SEC_IMAGE | PAGE_READONLY, 0, 42, NULL);
    CHECK(h != NULL, "an image section of 42 bytes");
    char *view = (char *)MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    CHECK(view != NULL, "MapViewOfFile of the image");
    MEMORY_BASIC_INFORMATION mbi;
    CHECK(VirtualQuery(view + 0x7000, &mbi, sizeof(mbi)) == sizeof(mbi), "VirtualQuery of the image's last page");
    CHECK(mbi.AllocationBase == view && mbi.Type == MEM_IMAGE, "the view holds the whole image, MEM_IMAGE");
    CHECK(view[0] == 'M' && view[1] == 'Z', "the image's headers read through the pointer");
    CHECK(UnmapViewOfFile(view), "UnmapViewOfFile");
    CHECK(CloseHandle(h) && CloseHandle(f), "CloseHandle");
    printf("image section sizes as Windows keeps them\n");
    return 0;
}

// Named sections through the C ABI: a second CreateFileMapping of a name in use opens the
// first section (F133), but only once the new section could have been built (F208): a size
// whose commit the limit refuses fails with ERROR_COMMITMENT_LIMIT, name or no name, while
// SEC_RESERVE (no charge) opens; and a file section bigger than its file grows the file
// before its name opens the existing section. argv[1] is a file of 4096 bytes; the test reads
// its size after the program ends.
#include <windows.h>
#include <stdio.h>

#define CHECK(cond, what) do { if (!(cond)) { printf("FAIL %s (last error %lu)\n", what, (unsigned long)GetLastError()); return 1; } } while (0)

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: named_section FILE");

    SetLastError(0xdead);
    HANDLE first = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x1000, "ntmem-f208");
    CHECK(first != NULL && GetLastError() == 0, "a new named section");
    char *w = (char *)MapViewOfFile(first, FILE_MAP_WRITE, 0, 0, 0);
    CHECK(w != NULL, "MapViewOfFile of the first handle");
    w[0] = 42;

    HANDLE second = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x2000, "ntmem-f208");
    CHECK(second != NULL && second != first && GetLastError() == ERROR_ALREADY_EXISTS, "the name in use opens");
    const char *r = (const char *)MapViewOfFile(second, FILE_MAP_READ, 0, 0, 0);
    CHECK(r != NULL && r[0] == 42, "the second handle is the same section");

    // 64 GiB: more commit than the machine has.
    SetLastError(0);
    CHECK(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0x10, 0, "ntmem-f208") == NULL
              && GetLastError() == ERROR_COMMITMENT_LIMIT,
          "a name in use does not save a section its commit");
    HANDLE reserved = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0x10, 0, "ntmem-f208");
    CHECK(reserved != NULL && GetLastError() == ERROR_ALREADY_EXISTS, "SEC_RESERVE of the same size opens");

    HANDLE f = CreateFileA(argv[1], GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(f != INVALID_HANDLE_VALUE, "CreateFileA");
    HANDLE file_section = CreateFileMappingA(f, NULL, PAGE_READWRITE, 0, 0, "ntmem-f208-file");
    CHECK(file_section != NULL && GetLastError() == 0, "a named section of the file");
    HANDLE bigger = CreateFileMappingA(f, NULL, PAGE_READWRITE, 0, 0x3000, "ntmem-f208-file");
    CHECK(bigger != NULL && GetLastError() == ERROR_ALREADY_EXISTS, "a bigger section of the name in use opens");
    // The section keeps its own size: a view past its 4096 bytes is refused.
    SetLastError(0);
    CHECK(MapViewOfFile(bigger, FILE_MAP_READ, 0, 0, 0x2000) == NULL && GetLastError() == ERROR_ACCESS_DENIED,
          "a view past the existing section's end");

    CHECK(UnmapViewOfFile(w) && UnmapViewOfFile(r), "UnmapViewOfFile");
    CHECK(CloseHandle(first) && CloseHandle(second) && CloseHandle(reserved), "CloseHandle of the page-file handles");
    CHECK(CloseHandle(bigger) && CloseHandle(file_section) && CloseHandle(f), "CloseHandle of the file handles");
    printf("named sections open as Windows builds them\n");
    return 0;
}

// Commit for copies through the C ABI (F209): VirtualProtect making shared view pages
// copy-on-write charges each page that may now become a copy, range after range; a write
// then copies within that charge; a page protected back unwritten gives its charge back, and
// the view's charges go when it is unmapped. PrivateUsage shows the process's commit.
#include <windows.h>
#include <psapi.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond, what) do { if (!(cond)) { printf("FAIL %s (last error %lu)\n", what, (unsigned long)GetLastError()); return 1; } } while (0)

static SIZE_T private_usage(void)
{
    PROCESS_MEMORY_COUNTERS_EX c;
    memset(&c, 0, sizeof c);
    if (!GetProcessMemoryInfo(GetCurrentProcess(), (PPROCESS_MEMORY_COUNTERS)&c, sizeof c)) {
        return (SIZE_T)-1;
    }
    return c.PrivateUsage;
}

int main(void)
{
    HANDLE section = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x4000, NULL);
    CHECK(section != NULL, "CreateFileMappingA");
    char *v = (char *)MapViewOfFile(section, FILE_MAP_WRITE, 0, 0, 0);
    CHECK(v != NULL, "MapViewOfFile");
    strcpy(v + 0x1000, "shared");
    SIZE_T base = private_usage();
    DWORD old = 0;

    CHECK(VirtualProtect(v, 0x1000, PAGE_WRITECOPY, &old) && old == PAGE_READWRITE, "page 0 copy-on-write");
    CHECK(private_usage() == base + 0x1000, "page 0 charged");
    CHECK(VirtualProtect(v + 0x1000, 0x1000, PAGE_WRITECOPY, &old), "page 1 copy-on-write");
    CHECK(private_usage() == base + 0x2000, "page 1 charged too");

    strcpy(v, "copy 0");
    strcpy(v + 0x1000, "copy 1");
    CHECK(private_usage() == base + 0x2000, "the copies are within the charge");
    MEMORY_BASIC_INFORMATION mbi;
    CHECK(VirtualQuery(v + 0x1000, &mbi, sizeof mbi) && mbi.Protect == PAGE_READWRITE, "a copy (F158)");

    CHECK(VirtualProtect(v + 0x2000, 0x2000, PAGE_WRITECOPY, &old), "pages 2 and 3 copy-on-write");
    CHECK(private_usage() == base + 0x4000, "pages 2 and 3 charged");
    CHECK(VirtualProtect(v, 0x4000, PAGE_READONLY, &old), "all read-only");
    CHECK(private_usage() == base + 0x2000, "the unwritten pages give their charge back");
    CHECK(strcmp(v + 0x1000, "copy 1") == 0, "the copy keeps its bytes");

    CHECK(UnmapViewOfFile(v), "UnmapViewOfFile");
    CHECK(private_usage() == base, "the copies' charge goes with the view");
    CHECK(CloseHandle(section), "CloseHandle");
    printf("copies are charged when pages become copy-on-write\n");
    return 0;
}

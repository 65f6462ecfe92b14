// Bad input through the C ABI gets Windows' error, never a crash: NULL and wild output
// pointers (ERROR_NOACCESS, nothing changed), bad flags, bad handles.
#include <windows.h>
#include <psapi.h>
#include <stdio.h>

#define CHECK(cond, what) do { if (!(cond)) { printf("FAIL %s (last error %lu)\n", what, (unsigned long)GetLastError()); return 1; } } while (0)

int main(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    DWORD old = 0;
    char *p = (char *)VirtualAlloc(NULL, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CHECK(p != NULL, "VirtualAlloc");
    p[0] = 1;

    SetLastError(0);
    CHECK(VirtualQuery(p, NULL, sizeof(mbi)) == 0 && GetLastError() == ERROR_NOACCESS, "VirtualQuery NULL buffer");
    SetLastError(0);
    CHECK(VirtualQuery(p, (PMEMORY_BASIC_INFORMATION)0x8, sizeof(mbi)) == 0 && GetLastError() == ERROR_NOACCESS, "VirtualQuery wild buffer");
    SetLastError(0);
    CHECK(VirtualQuery(p, (PMEMORY_BASIC_INFORMATION)(p + 0x10000), sizeof(mbi)) == 0 && GetLastError() == ERROR_NOACCESS, "VirtualQuery buffer in free arena memory");
    SetLastError(0);
    CHECK(VirtualQuery(p, &mbi, 8) == 0 && GetLastError() == ERROR_BAD_LENGTH, "VirtualQuery short length");

    SetLastError(0);
    CHECK(!VirtualProtect(p, 0x1000, PAGE_READONLY, NULL) && GetLastError() == ERROR_NOACCESS, "VirtualProtect NULL old");
    CHECK(VirtualQuery(p, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_READWRITE, "protection unchanged after the failed VirtualProtect");
    SetLastError(0);
    CHECK(!VirtualProtect(p, 0x1000, PAGE_READONLY, (PDWORD)0x10) && GetLastError() == ERROR_NOACCESS, "VirtualProtect wild old");
    CHECK(VirtualProtect(p, 0x1000, PAGE_READONLY, &old) && old == PAGE_READWRITE, "VirtualProtect");
    SetLastError(0);
    CHECK(!VirtualProtect(p + 0x1000, 0x1000, PAGE_READONLY, (PDWORD)p) && GetLastError() == ERROR_NOACCESS, "VirtualProtect old in a read-only page");

    SetLastError(0);
    CHECK(VirtualAlloc(NULL, 0x1000, 0x12345, PAGE_READWRITE) == NULL && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualAlloc bad type");
    SetLastError(0);
    CHECK(VirtualAlloc(NULL, 0x1000, MEM_COMMIT, 0x12345) == NULL && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualAlloc bad protection");
    SetLastError(0);
    CHECK(!VirtualFree(p, 0x1000, MEM_RELEASE) && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualFree release with a size");

    SetLastError(0);
    CHECK(!CloseHandle((HANDLE)0x1234) && GetLastError() == ERROR_INVALID_HANDLE, "CloseHandle bad handle");
    SetLastError(0);
    CHECK(MapViewOfFile((HANDLE)0x1234, FILE_MAP_READ, 0, 0, 0) == NULL && GetLastError() == ERROR_INVALID_HANDLE, "MapViewOfFile bad handle");
    SetLastError(0);
    CHECK(CreateFileA(NULL, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PATH_NOT_FOUND, "CreateFileA NULL name");
    SetLastError(0);
    CHECK(CreateFileA((LPCSTR)0x20, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE && GetLastError() == ERROR_NOACCESS, "CreateFileA wild name");

    PROCESS_MEMORY_COUNTERS pmc;
    SetLastError(0);
    CHECK(!GetProcessMemoryInfo(GetCurrentProcess(), NULL, sizeof(pmc)) && GetLastError() == ERROR_NOACCESS, "GetProcessMemoryInfo NULL");
    SetLastError(0);
    CHECK(!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, 4) && GetLastError() == ERROR_INSUFFICIENT_BUFFER, "GetProcessMemoryInfo small cb");
    CHECK(GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof(pmc)) && pmc.cb == sizeof(pmc) && pmc.PageFaultCount >= 1, "GetProcessMemoryInfo");
    MEMORYSTATUSEX ms;
    ms.dwLength = 12;
    SetLastError(0);
    CHECK(!GlobalMemoryStatusEx(&ms) && GetLastError() == ERROR_INVALID_PARAMETER, "GlobalMemoryStatusEx bad length");
    SetLastError(0);
    CHECK(!GlobalMemoryStatusEx(NULL) && GetLastError() == ERROR_NOACCESS, "GlobalMemoryStatusEx NULL");
    ULONG_PTR count = 4;
    DWORD gran;
    PVOID addrs[4];
    SetLastError(0);
    CHECK(GetWriteWatch(0, p, 0x1000, addrs, &count, &gran) == (UINT)-1 && GetLastError() == ERROR_INVALID_PARAMETER, "GetWriteWatch on memory without write watch");
    SetLastError(0);
    CHECK(GetWriteWatch(0, p, 0x1000, addrs, NULL, &gran) == (UINT)-1 && GetLastError() == ERROR_NOACCESS, "GetWriteWatch NULL count");

    // F202: ReadFile and WriteFile zero the count before any check, so a failure leaves 0.
    DWORD moved = 7;
    char byte = 0;
    SetLastError(0);
    CHECK(!ReadFile((HANDLE)0x1234, &byte, 1, &moved, NULL) && GetLastError() == ERROR_INVALID_HANDLE && moved == 0, "ReadFile bad handle zeroes the count");
    moved = 7;
    SetLastError(0);
    CHECK(!WriteFile((HANDLE)0x1234, &byte, 1, &moved, NULL) && GetLastError() == ERROR_INVALID_HANDLE && moved == 0, "WriteFile bad handle zeroes the count");

    // F186: VirtualProtect failing on reserved memory still reports PAGE_NOACCESS; a refused
    // protection writes nothing.
    char *r = (char *)VirtualAlloc(NULL, 0x1000, MEM_RESERVE, PAGE_READWRITE);
    CHECK(r != NULL, "VirtualAlloc MEM_RESERVE");
    old = 0xFFFFFFFF;
    SetLastError(0);
    CHECK(!VirtualProtect(r, 0x1000, PAGE_READONLY, &old) && GetLastError() == ERROR_INVALID_ADDRESS && old == PAGE_NOACCESS, "VirtualProtect on reserved memory");
    old = 0xFFFFFFFF;
    SetLastError(0);
    CHECK(!VirtualProtect(p, 0x1000, 0x12345, &old) && GetLastError() == ERROR_INVALID_PARAMETER && old == 0xFFFFFFFF, "VirtualProtect bad protection writes nothing");
    CHECK(VirtualFree(r, 0, MEM_RELEASE), "VirtualFree");

    // F152: FILE_MAP_COPY with another bit asks for no access; F155/F201: such a view cannot
    // be raised to read-only (87, and the old protection written back is 0).
    HANDLE hm = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x2000, NULL);
    CHECK(hm != NULL, "CreateFileMappingA");
    char *v = (char *)MapViewOfFile(hm, SECTION_MAP_EXECUTE | FILE_MAP_COPY, 0, 0, 0);
    CHECK(v != NULL, "MapViewOfFile(SECTION_MAP_EXECUTE | FILE_MAP_COPY)");
    CHECK(VirtualQuery(v, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_NOACCESS && mbi.AllocationProtect == PAGE_NOACCESS, "odd-copy view is no-access");
    old = 0xFFFFFFFF;
    SetLastError(0);
    CHECK(!VirtualProtect(v, 0x1000, PAGE_READONLY, &old) && GetLastError() == ERROR_INVALID_PARAMETER && old == 0, "VirtualProtect above the view");
    CHECK(UnmapViewOfFile(v) && CloseHandle(hm), "unmap and close");

    printf("all bad input refused\n");
    return 0;
}

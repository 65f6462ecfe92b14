// Bad input through the C ABI gets Windows' error, never a crash: NULL and wild output
// pointers (ERROR_NOACCESS, nothing changed), bad flags, bad handles, bad lengths, each
// reported in Windows' order of checks; and guard pages met by a service (F98).
#include <windows.h>
#include <psapi.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond, what) do { if (!(cond)) { printf("FAIL %s (last error %lu)\n", what, (unsigned long)GetLastError()); return 1; } } while (0)

// True when the n bytes at b are all v.
static int all(const char *b, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b[i] != v)
            return 0;
    return 1;
}

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

    // NtProtectVirtualMemory writes the old protection under a handler: a variable inside the
    // range it has just made read-only does not turn the change into a failure.
    DWORD *inside = (DWORD *)VirtualAlloc(NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CHECK(inside != NULL, "VirtualAlloc inside");
    *inside = 0xFFFFFFFF;
    SetLastError(0);
    CHECK(VirtualProtect(inside, 0x1000, PAGE_READONLY, inside) && GetLastError() == 0, "VirtualProtect old inside the range");
    CHECK(VirtualQuery(inside, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_READONLY && *inside == 0xFFFFFFFF, "the change stands, the variable could not be written");

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

    // Windows' order of checks, and nothing changed when a check fails. q's first page is
    // committed, its second only reserved: a buffer ending at edge has only the bytes below it.
    char *q = (char *)VirtualAlloc(NULL, 0x2000, MEM_RESERVE, PAGE_READWRITE);
    CHECK(q != NULL && VirtualAlloc(q, 0x1000, MEM_COMMIT, PAGE_READWRITE) == q, "VirtualAlloc q");
    char *edge = q + 0x1000;
    char *rw = (char *)VirtualAlloc(NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CHECK(rw != NULL, "VirtualAlloc rw");

    // F187: the protection is checked before lpflOldProtect is probed.
    SetLastError(0);
    CHECK(!VirtualProtect(rw, 0x1000, 0x12345, NULL) && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualProtect bad protection, NULL old");
    SetLastError(0);
    CHECK(!VirtualProtect(rw, 0x1000, 0x12345, (PDWORD)0x10) && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualProtect bad protection, wild old");
    CHECK(VirtualQuery(rw, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_READWRITE, "protection unchanged after the refused protections");

    // NtQueryVirtualMemory: the length (ERROR_BAD_LENGTH), then all dwLength bytes probed for
    // write, aligned to 8 (ERROR_NOACCESS), then the address (87).
    const void *kernel = (const void *)(ULONG_PTR)0xFFFF800000001000ULL;
    SetLastError(0);
    CHECK(VirtualQuery(kernel, &mbi, 8) == 0 && GetLastError() == ERROR_BAD_LENGTH, "VirtualQuery kernel address, short length");
    SetLastError(0);
    CHECK(VirtualQuery(kernel, NULL, sizeof(mbi)) == 0 && GetLastError() == ERROR_NOACCESS, "VirtualQuery kernel address, NULL buffer");
    SetLastError(0);
    CHECK(VirtualQuery(kernel, &mbi, sizeof(mbi)) == 0 && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualQuery kernel address");
    memset(edge - 48, 0x5A, 48);
    SetLastError(0);
    CHECK(VirtualQuery(p, (PMEMORY_BASIC_INFORMATION)(edge - 48), 64) == 0 && GetLastError() == ERROR_NOACCESS && all(edge - 48, 48, 0x5A), "VirtualQuery probes all of dwLength");
    SetLastError(0);
    CHECK(VirtualQuery(p, (PMEMORY_BASIC_INFORMATION)(q + 4), sizeof(mbi)) == 0 && GetLastError() == ERROR_NOACCESS && all(q, 64, 0), "VirtualQuery misaligned buffer");
    CHECK(VirtualQuery(p, (PMEMORY_BASIC_INFORMATION)(edge - 48), sizeof(mbi)) == sizeof(mbi), "VirtualQuery into the last 48 bytes");

    // GetWriteWatch in Kernel32's order (F121): the flags, then the count (87 when 0 or when
    // count * 8 overflows, as WRK's NtGetWriteWatch); then count * 8 bytes of results, aligned
    // to 8, however few pages the region has; every pointer probed before a RESET.
    char *w = (char *)VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    CHECK(w != NULL, "VirtualAlloc MEM_WRITE_WATCH");
    w[0] = 1;
    SetLastError(0);
    CHECK(GetWriteWatch(2, w, 0x10000, addrs, NULL, &gran) == (UINT)-1 && GetLastError() == ERROR_INVALID_PARAMETER, "GetWriteWatch bad flags before the NULL count");
    count = 64;
    SetLastError(0);
    CHECK(GetWriteWatch(0, w, 0x1000, (PVOID *)(edge - 32), &count, &gran) == (UINT)-1 && GetLastError() == ERROR_NOACCESS && count == 64, "GetWriteWatch results shorter than the count");
    count = 4;
    SetLastError(0);
    CHECK(GetWriteWatch(0, w, 0x1000, (PVOID *)(q + 4), &count, &gran) == (UINT)-1 && GetLastError() == ERROR_NOACCESS && count == 4 && all(q, 64, 0), "GetWriteWatch misaligned results");
    count = (ULONG_PTR)1 << 61;
    SetLastError(0);
    CHECK(GetWriteWatch(0, w, 0x1000, addrs, &count, &gran) == (UINT)-1 && GetLastError() == ERROR_INVALID_PARAMETER, "GetWriteWatch count * 8 overflows");
    ULONG_PTR *ro = (ULONG_PTR *)VirtualAlloc(NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CHECK(ro != NULL, "VirtualAlloc ro");
    *ro = 4;
    CHECK(VirtualProtect(ro, 0x1000, PAGE_READONLY, &old), "VirtualProtect ro");
    addrs[0] = NULL;
    SetLastError(0);
    CHECK(GetWriteWatch(WRITE_WATCH_FLAG_RESET, w, 0x10000, addrs, ro, &gran) == (UINT)-1 && GetLastError() == ERROR_NOACCESS && addrs[0] == NULL, "GetWriteWatch(RESET) count in a read-only page");
    count = 4;
    CHECK(GetWriteWatch(0, w, 0x10000, addrs, &count, &gran) == 0 && count == 1 && addrs[0] == w, "the write survives the failed reset");

    // F98: a guard page met by a service fails it with STATUS_GUARD_PAGE_VIOLATION and loses
    // its guard; nothing else changes.
    char *g = (char *)VirtualAlloc(NULL, 0x3000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    CHECK(g != NULL, "VirtualAlloc guard");
    w[0] = 2;
    count = 4;
    SetLastError(0);
    CHECK(GetWriteWatch(WRITE_WATCH_FLAG_RESET, w, 0x10000, (PVOID *)g, &count, &gran) == (UINT)-1 && GetLastError() == STATUS_GUARD_PAGE_VIOLATION && count == 4, "GetWriteWatch(RESET) results in a guard page");
    CHECK(VirtualQuery(g, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_READWRITE, "the guard is consumed");
    CHECK(GetWriteWatch(WRITE_WATCH_FLAG_RESET, w, 0x10000, (PVOID *)g, &count, &gran) == 0 && count == 1 && ((PVOID *)g)[0] == w, "the write survives the guard");
    SetLastError(0);
    CHECK(!VirtualProtect(rw, 0x1000, 0x12345, (PDWORD)(g + 0x1000)) && GetLastError() == ERROR_INVALID_PARAMETER, "VirtualProtect bad protection, old in a guard page");
    CHECK(VirtualQuery(g + 0x1000, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == (PAGE_READWRITE | PAGE_GUARD), "a refused protection leaves the guard");
    SetLastError(0);
    CHECK(!VirtualProtect(rw, 0x1000, PAGE_READONLY, (PDWORD)(g + 0x2000)) && GetLastError() == STATUS_GUARD_PAGE_VIOLATION, "VirtualProtect old in a guard page");
    CHECK(VirtualQuery(rw, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_READWRITE, "protection unchanged after the guard");
    CHECK(VirtualQuery(g + 0x2000, &mbi, sizeof(mbi)) == sizeof(mbi) && mbi.Protect == PAGE_READWRITE, "VirtualProtect consumed the guard");

    // NtReadFile / NtWriteFile: the handle and its access, then the buffer, then the I/O (the
    // count zeroed before all, F202); a failed check leaves the file and its position alone.
    HANDLE hw = CreateFileA("bad_input.tmp", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, CREATE_ALWAYS, 0, NULL);
    CHECK(hw != INVALID_HANDLE_VALUE && WriteFile(hw, "abcdefgh", 8, &moved, NULL) && moved == 8, "a file");
    HANDLE hr = CreateFileA("bad_input.tmp", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(hr != INVALID_HANDLE_VALUE, "CreateFileA read");
    moved = 7;
    SetLastError(0);
    CHECK(!WriteFile((HANDLE)0x1234, NULL, 10, &moved, NULL) && GetLastError() == ERROR_INVALID_HANDLE && moved == 0, "WriteFile bad handle before the NULL buffer");
    moved = 7;
    SetLastError(0);
    CHECK(!ReadFile((HANDLE)0x1234, NULL, 4, &moved, NULL) && GetLastError() == ERROR_INVALID_HANDLE && moved == 0, "ReadFile bad handle before the NULL buffer");
    moved = 7;
    SetLastError(0);
    CHECK(!ReadFile(hw, NULL, 4, &moved, NULL) && GetLastError() == ERROR_ACCESS_DENIED && moved == 0, "ReadFile write-only handle before the NULL buffer");
    moved = 7;
    SetLastError(0);
    CHECK(!WriteFile(hr, NULL, 4, &moved, NULL) && GetLastError() == ERROR_ACCESS_DENIED && moved == 0, "WriteFile read-only handle before the NULL buffer");
    char *g2 = (char *)VirtualAlloc(NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    CHECK(g2 != NULL, "VirtualAlloc guard 2");
    moved = 7;
    SetLastError(0);
    CHECK(!ReadFile(hr, g2, 4, &moved, NULL) && GetLastError() == STATUS_GUARD_PAGE_VIOLATION && moved == 0, "ReadFile into a guard page");
    CHECK(ReadFile(hr, g2, 4, &moved, NULL) && moved == 4 && memcmp(g2, "abcd", 4) == 0, "the guard is consumed and the position did not move");
    SetLastError(0);
    CHECK(!ReadFile(hr, NULL, 4, &moved, NULL) && GetLastError() == ERROR_NOACCESS && moved == 0, "ReadFile NULL buffer");
    char four[4];
    CHECK(ReadFile(hr, four, 4, &moved, NULL) && moved == 4 && memcmp(four, "efgh", 4) == 0, "the position did not move");
    memcpy(g2, "WXYZ", 4);
    CHECK(VirtualProtect(g2, 0x1000, PAGE_READWRITE | PAGE_GUARD, &old), "guard 2 again");
    moved = 7;
    SetLastError(0);
    CHECK(!WriteFile(hw, g2, 4, &moved, NULL) && GetLastError() == STATUS_GUARD_PAGE_VIOLATION && moved == 0, "WriteFile from a guard page");
    CHECK(WriteFile(hw, g2, 4, &moved, NULL) && moved == 4, "WriteFile after the guard");
    CHECK(ReadFile(hr, four, 4, &moved, NULL) && moved == 4 && memcmp(four, "WXYZ", 4) == 0, "the failed write wrote nothing");
    CHECK(CloseHandle(hr) && CloseHandle(hw), "close the file");

    // GlobalMemoryStatusEx: dwLength is checked before the structure is probed.
    MEMORYSTATUSEX *ms8 = (MEMORYSTATUSEX *)(edge - 8);
    memset(edge - 8, 0x5A, 8);
    ms8->dwLength = 0;
    SetLastError(0);
    CHECK(!GlobalMemoryStatusEx(ms8) && GetLastError() == ERROR_INVALID_PARAMETER, "GlobalMemoryStatusEx length 0, 8 bytes writable");
    ms8->dwLength = sizeof(MEMORYSTATUSEX);
    SetLastError(0);
    CHECK(!GlobalMemoryStatusEx(ms8) && GetLastError() == ERROR_NOACCESS && ms8->dwLength == sizeof(MEMORYSTATUSEX) && all(edge - 4, 4, 0x5A), "GlobalMemoryStatusEx 8 bytes writable");

    // QueryWorkingSetEx: a cb under 16 is ERROR_BAD_LENGTH, before the handle.
    PSAPI_WORKING_SET_EX_INFORMATION wsx;
    SetLastError(0);
    CHECK(!QueryWorkingSetEx(GetCurrentProcess(), &wsx, 8) && GetLastError() == ERROR_BAD_LENGTH, "QueryWorkingSetEx cb 8");
    SetLastError(0);
    CHECK(!QueryWorkingSetEx((HANDLE)0x1234, &wsx, 0) && GetLastError() == ERROR_BAD_LENGTH, "QueryWorkingSetEx cb 0 before the bad handle");

    printf("all bad input refused\n");
    return 0;
}

/* sysinfoapi.h for ntmem's native engine. */
#ifndef NTMEM_SYSINFOAPI_H
#define NTMEM_SYSINFOAPI_H
#include "ntmem_win.h"
#ifdef __cplusplus
extern "C" {
#endif

void WINAPI GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);
BOOL WINAPI GlobalMemoryStatusEx(LPMEMORYSTATUSEX lpBuffer);

#ifdef __cplusplus
}
#endif
#endif

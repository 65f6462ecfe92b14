/* processthreadsapi.h for ntmem's native engine. */
#ifndef NTMEM_PROCESSTHREADSAPI_H
#define NTMEM_PROCESSTHREADSAPI_H
#include "ntmem_win.h"
#ifdef __cplusplus
extern "C" {
#endif
BOOL WINAPI SetProcessWorkingSetSize(HANDLE hProcess, SIZE_T dwMinimumWorkingSetSize, SIZE_T dwMaximumWorkingSetSize);
BOOL WINAPI SetProcessWorkingSetSizeEx(HANDLE hProcess, SIZE_T dwMinimumWorkingSetSize,
                                       SIZE_T dwMaximumWorkingSetSize, DWORD Flags);
#ifdef __cplusplus
}
#endif
#endif

#ifndef CZSTD_SHIM_H
#define CZSTD_SHIM_H
// For ZSTD_f_zstd1_magicless: frames without their 4-byte magic number (records know they are compressed).
// Only parameter values of the advanced API are used, no experimental function, so the shared library serves.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zdict.h>
#include <zstd_errors.h>
#endif

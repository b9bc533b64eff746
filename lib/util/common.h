/*
 * Internal definitions shared by every layer. Internal symbols use the
 * prefix rmqi_ so they can never clash with the public rmq_ API, and are
 * hidden from the shared library's symbol table by -fvisibility=hidden.
 */
#ifndef RMQI_COMMON_H
#define RMQI_COMMON_H

#include "rmq.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQI_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RMQI_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RMQI_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define RMQI_LIKELY(x) __builtin_expect(!!(x), 1)
#define RMQI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RMQI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define RMQI_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define RMQI_LIKELY(x) (x)
#define RMQI_UNLIKELY(x) (x)
#define RMQI_PRINTF(fmt, args)
#define RMQI_ALWAYS_INLINE static inline
#endif

#endif

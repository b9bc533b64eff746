/*
 * Reads the golden vectors written by the Java generator
 * (tests/vectors/FORMAT.md): NAME.bin holds the bytes Java produced and
 * NAME.txt what they mean, one `key<TAB>value` per line.
 * The vectors directory comes from $RMQ_VECTORS (set by meson).
 */
#ifndef RMQ_TEST_VECTORS_H
#define RMQ_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rmqt_kv {
  char *key;
  char *val;      /* unescaped, NUL-terminated (may contain NULs) */
  size_t val_len; /* length without the terminator */
} rmqt_kv;

typedef struct rmqt_vec {
  char name[256];
  char version[64];
  uint8_t *bin; /* NULL when the case has no .bin */
  size_t bin_len;
  rmqt_kv *kv;
  size_t n_kv;
} rmqt_vec;

/* Version directories present (e.g. "4.9.8"), sorted; NULL-terminated array
 * owned by the caller (free with rmqt_strv_free). */
char **rmqt_vec_versions(void);
/* Case names in @p version whose name starts with @p prefix, sorted. */
char **rmqt_vec_cases(const char *version, const char *prefix);
void rmqt_strv_free(char **v);

/* Loads one case; NULL (with a message on stderr) if it cannot be read. */
rmqt_vec *rmqt_vec_load(const char *version, const char *name);
void rmqt_vec_free(rmqt_vec *v);

/* The value of @p key or NULL. */
const char *rmqt_vec_get(const rmqt_vec *v, const char *key);
const rmqt_kv *rmqt_vec_find(const rmqt_vec *v, const char *key);
/* Integer value; @p dflt when absent. */
long long rmqt_vec_int(const rmqt_vec *v, const char *key, long long dflt);
/* Decodes a `.hex` value into malloc'd bytes; NULL when absent. */
uint8_t *rmqt_vec_hex(const rmqt_vec *v, const char *key, size_t *len);

/* Reads a whole file into malloc'd memory; NULL on failure. */
uint8_t *rmqt_read_file(const char *path, size_t *len);

#endif

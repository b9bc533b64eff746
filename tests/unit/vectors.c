#include "vectors.h"

#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $RMQ_VECTORS, which meson sets: a test run without it (or with an empty
 * value) has no vectors to compare against, and that is a failure, not a
 * skip. */
static const char *vectors_dir(void) {
  const char *d = getenv("RMQ_VECTORS");
  if (d == NULL || d[0] == '\0') {
    rmqt_fail(__FILE__, __LINE__,
              "RMQ_VECTORS is not set: no vectors to test against");
    return NULL;
  }
  return d;
}

uint8_t *rmqt_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf)
    *len = n;
  return buf;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *path, int want_dirs, const char *prefix,
                       const char *suffix) {
  DIR *d = path ? opendir(path) : NULL;
  size_t n = 0, cap = 16;
  char **out = calloc(cap + 1, sizeof(char *));
  if (d == NULL || out == NULL) {
    if (d)
      closedir(d);
    return out;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    if (nm[0] == '.')
      continue;
    char full[1024];
    snprintf(full, sizeof(full), "%s/%s", path, nm);
    DIR *sub = opendir(full);
    int is_dir = sub != NULL;
    if (sub)
      closedir(sub);
    if (is_dir != want_dirs)
      continue;
    size_t len = strlen(nm), sl = suffix ? strlen(suffix) : 0;
    if (prefix && strncmp(nm, prefix, strlen(prefix)) != 0)
      continue;
    if (suffix && (len < sl || strcmp(nm + len - sl, suffix) != 0))
      continue;
    if (want_dirs && (nm[0] < '0' || nm[0] > '9'))
      continue; /* only version directories */
    if (n == cap) {
      char **no = realloc(out, (cap * 2 + 1) * sizeof(char *));
      if (no == NULL)
        break;
      out = no;
      cap *= 2;
    }
    out[n] = strndup(nm, len - sl);
    n++;
  }
  closedir(d);
  out[n] = NULL;
  qsort(out, n, sizeof(char *), cmp_str);
  return out;
}

/* A missing or empty vectors directory fails the calling case here, so no
 * caller can pass by comparing nothing. */
char **rmqt_vec_versions(void) {
  const char *dir = vectors_dir();
  if (dir == NULL)
    return list_dir(NULL, 1, NULL, NULL);
  char **v = list_dir(dir, 1, NULL, NULL);
  if (v == NULL || v[0] == NULL)
    rmqt_fail(__FILE__, __LINE__,
              "RMQ_VECTORS=%s has no version directories (cannot read it, "
              "or it is empty)",
              dir);
  return v;
}

char **rmqt_vec_cases(const char *version, const char *prefix) {
  const char *dir = vectors_dir();
  if (dir == NULL)
    return list_dir(NULL, 0, prefix, ".txt");
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", dir, version);
  return list_dir(path, 0, prefix, ".txt");
}

void rmqt_strv_free(char **v) {
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Unescapes in place per FORMAT.md; returns the new length. */
static size_t unescape(char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\' || i + 1 >= n) {
      s[o++] = s[i];
      continue;
    }
    char c = s[++i];
    if (c == 't')
      s[o++] = '\t';
    else if (c == 'n')
      s[o++] = '\n';
    else if (c == 'r')
      s[o++] = '\r';
    else if (c == 'x' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
             hexval(s[i + 2]) >= 0) {
      s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else
      s[o++] = c;
  }
  s[o] = '\0';
  return o;
}

rmqt_vec *rmqt_vec_load(const char *version, const char *name) {
  char path[1024];
  rmqt_vec *v = calloc(1, sizeof(*v));
  if (v == NULL)
    return NULL;
  snprintf(v->name, sizeof(v->name), "%s", name);
  snprintf(v->version, sizeof(v->version), "%s", version);
  const char *dir = vectors_dir();
  if (dir == NULL) {
    free(v);
    return NULL;
  }
  snprintf(path, sizeof(path), "%s/%s/%s.txt", dir, version, name);
  size_t len;
  char *txt = (char *)rmqt_read_file(path, &len);
  if (txt == NULL) {
    fprintf(stderr, "cannot read vector %s\n", path);
    free(v);
    return NULL;
  }
  size_t cap = 0;
  char *p = txt, *end = txt + len;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *le = nl ? nl : end;
    char *tab = memchr(p, '\t', (size_t)(le - p));
    if (tab) {
      if (v->n_kv == cap) {
        cap = cap ? cap * 2 : 32;
        rmqt_kv *nk = realloc(v->kv, cap * sizeof(*nk));
        if (nk == NULL)
          break;
        v->kv = nk;
      }
      rmqt_kv *kv = &v->kv[v->n_kv++];
      kv->key = strndup(p, (size_t)(tab - p));
      size_t vl = (size_t)(le - tab - 1);
      kv->val = malloc(vl + 1);
      memcpy(kv->val, tab + 1, vl);
      kv->val[vl] = '\0';
      kv->val_len = unescape(kv->val, vl);
    }
    p = le + 1;
  }
  free(txt);
  snprintf(path, sizeof(path), "%s/%s/%s.bin", dir, version, name);
  v->bin = rmqt_read_file(path, &v->bin_len);
  return v;
}

void rmqt_vec_free(rmqt_vec *v) {
  if (v == NULL)
    return;
  for (size_t i = 0; i < v->n_kv; i++) {
    free(v->kv[i].key);
    free(v->kv[i].val);
  }
  free(v->kv);
  free(v->bin);
  free(v);
}

const rmqt_kv *rmqt_vec_find(const rmqt_vec *v, const char *key) {
  for (size_t i = v->n_kv; i-- > 0;)
    if (strcmp(v->kv[i].key, key) == 0)
      return &v->kv[i];
  return NULL;
}

const char *rmqt_vec_get(const rmqt_vec *v, const char *key) {
  const rmqt_kv *kv = rmqt_vec_find(v, key);
  return kv ? kv->val : NULL;
}

long long rmqt_vec_int(const rmqt_vec *v, const char *key, long long dflt) {
  const char *s = rmqt_vec_get(v, key);
  return s ? strtoll(s, NULL, 10) : dflt;
}

uint8_t *rmqt_vec_hex(const rmqt_vec *v, const char *key, size_t *len) {
  const char *s = rmqt_vec_get(v, key);
  if (s == NULL)
    return NULL;
  size_t n = strlen(s) / 2;
  uint8_t *out = malloc(n ? n : 1);
  for (size_t i = 0; out && i < n; i++)
    out[i] = (uint8_t)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
  *len = n;
  return out;
}

/*
 * The broadcasting consumer's local offset store, in Java's file format
 * (LocalFileOffsetStore's OffsetSerializeWrapper, fastjson with MessageQueue
 * objects as map keys), written crash-safe the way Java's MixAll.string2File
 * does: the new content goes to <file>.tmp and is synced, the old file
 * becomes <file>.bak, then the temporary file is renamed into place. Loading
 * falls back to the .bak copy when the file is missing or unreadable.
 */
#ifndef RMQI_CONSUMER_OFFSET_FILE_H
#define RMQI_CONSUMER_OFFSET_FILE_H

#include "../codec/body_mq.h"

/* Writes @p n queue offsets to @p path (directories must exist). */
rmq_err_t rmqi_offset_file_save(const char *path, const rmqi_mqo_t *mqs,
                                size_t n, char *err, size_t err_size);

/* Reads the table; *out (n entries) is malloc'd with its strings in one
 * block: free(*out) releases all. RMQ_ERR_NOT_FOUND when neither the file
 * nor its .bak exist. */
rmq_err_t rmqi_offset_file_load(const char *path, rmqi_mqo_t **out, size_t *n,
                                char *err, size_t err_size);

/* The table of an offsets.json text (untrusted: a malformed entry is
 * dropped; broken JSON or no offsetTable is an error with the reason in
 * @p err). *out as for rmqi_offset_file_load. */
rmq_err_t rmqi_offset_table_decode(const char *text, size_t len,
                                   rmqi_mqo_t **out, size_t *n, char *err,
                                   size_t err_size);

/* The offsets of a broadcasting consumer in memory: an array (saved as is)
 * with a hash index on (topic, broker, queue id), so that finding or
 * adding one queue's offset costs O(1) whatever the number of queues. */
typedef struct rmqi_mqo_tab {
  rmqi_mqo_t *v; /* strings owned */
  size_t n, cap;
  uint32_t *slot; /* 0 empty, else index + 1; n_slot a power of two */
  size_t n_slot;
} rmqi_mqo_tab_t;

rmqi_mqo_t *rmqi_mqo_tab_find(const rmqi_mqo_tab_t *t, const char *topic,
                              const char *broker, int32_t qid);
/* Sets the queue's offset, adding it (strings copied) when new. */
rmq_err_t rmqi_mqo_tab_put(rmqi_mqo_tab_t *t, const char *topic,
                           const char *broker, int32_t qid, int64_t offset);
void rmqi_mqo_tab_free(rmqi_mqo_tab_t *t);

#endif

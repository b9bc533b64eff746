/*
 * Unique client message ids (UNIQ_KEY, message.md §5.1), as Java's
 * MessageClientIDSetter writes them: upper-case hex of ip (4 or 16 bytes),
 * pid (2), class-loader hash (4), milliseconds since the start of the month
 * in local time (4) and a counter (2); 32 or 56 characters. The ids come
 * from other processes (any producer, or a broker), so decoding is strict.
 */
#ifndef RMQI_CODEC_MSGID_H
#define RMQI_CODEC_MSGID_H

#include "../util/err.h"

typedef struct rmqi_uniq_id {
  uint8_t ip[16];
  uint8_t ip_len; /* 4 or 16 */
  uint16_t pid;   /* Java keeps the low 16 bits of the pid */
  uint32_t loader_hash; /* Java: MessageClientIDSetter's class-loader hash */
  uint32_t month_ms;    /* ms since the month began (unsigned, as Java reads it) */
  uint16_t counter;
} rmqi_uniq_id_t;

/*
 * Hex text to bytes: @p n must be even and out must hold n / 2 bytes. Either
 * case is accepted. Returns n when all is hex, else the index of the first
 * bad character.
 */
size_t rmqi_unhex(const char *s, size_t n, uint8_t *out);

/* Upper-case hex of @p n bytes into out[2n] and a NUL (ids are written so). */
void rmqi_hex_upper(char *out, const uint8_t *b, size_t n);

/* Decodes a UNIQ_KEY; RMQ_ERR_BAD_MSGID with the position and the reason
 * for a length other than 32 or 56 or a non-hex character. */
rmq_err_t rmqi_uniq_id_decode(const char *id, size_t n, rmqi_uniq_id_t *u,
                              rmqi_errbuf_t *e);

/* The id again: 32 or 56 upper-case hex characters and a NUL. */
void rmqi_uniq_id_encode(const rmqi_uniq_id_t *u, char out[57]);

/* The address as Java's getIPStrFromID prints it: "a.b.c.d", or eight
 * groups of four lower-case hex digits ("fd00:0000:...:0002"). */
void rmqi_uniq_id_ip_str(const rmqi_uniq_id_t *u, char out[40]);

/*
 * The born time in epoch ms as Java's getNearlyTimeFromID guesses it at
 * @p now_ms: the start of now's month (local time) plus month_ms, or of the
 * month before when that would not be in the past. Only "nearly": an id
 * more than a month old maps into the wrong month.
 */
int64_t rmqi_uniq_id_born_ms(const rmqi_uniq_id_t *u, int64_t now_ms);

#endif

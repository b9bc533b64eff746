/* Private to the command codec: the two header encodings. */
#ifndef RMQI_CODEC_CMD_INT_H
#define RMQI_CODEC_CMD_INT_H

#include "cmd.h"

rmq_err_t rmqi_cmd_encode_json(rmqi_buf_t *out, const rmqi_cmd_t *c);
rmq_err_t rmqi_cmd_encode_rocketmq(rmqi_buf_t *out, const rmqi_cmd_t *c);
rmq_err_t rmqi_cmd_decode_json(rmqi_cmd_t *c, const uint8_t *h, size_t n,
                               rmqi_errbuf_t *e);
rmq_err_t rmqi_cmd_decode_rocketmq(rmqi_cmd_t *c, const uint8_t *h, size_t n,
                                   rmqi_errbuf_t *e);
/* @p n bytes for the strings of a header being decoded: the inline pool
 * when they fit, else the arena. NULL when out of memory. */
char *rmqi_cmd_str_block(rmqi_cmd_t *c, size_t n);
/* Strict decimal int64 (optional sign). */
bool rmqi_parse_i64(const char *s, size_t n, int64_t *out);

#endif

/*
 * Subscription expressions (client-behaviour.md §6, Java FilterAPI): a TAG
 * expression "a || b" becomes a tag set with Java String.hashCode codes for
 * the broker; "*" (or empty) subscribes to everything; SQL92 text travels as
 * is. Also the client-side re-check of tags after the broker's hash filter.
 */
#ifndef RMQI_CONSUMER_SUBSCRIPTION_H
#define RMQI_CONSUMER_SUBSCRIPTION_H

#include "../util/common.h"

typedef struct rmqi_sub {
  char *topic;
  char *expression; /* as given; "*" for all */
  bool sql92;
  char **tags;      /* TAG only */
  int32_t *codes;
  size_t n_tags;
  int64_t version;  /* subVersion: ms when built */
} rmqi_sub_t;

/* Builds a subscription; RMQ_ERR_INVALID_ARG for an empty SQL expression. */
rmq_err_t rmqi_sub_build(rmqi_sub_t *s, const char *topic, const char *expr,
                         bool sql92, int64_t now_ms);
void rmqi_sub_free(rmqi_sub_t *s);

/* Java's client-side filter after a pull: true when the subscription takes
 * every tag, or the message's TAGS is exactly one of the subscribed tags. */
bool rmqi_sub_matches(const rmqi_sub_t *s, const char *tags, size_t n);

#endif

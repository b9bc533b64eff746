/*
 * Namespaces (Java's NamespaceUtil and ClientConfig.getNamespace): a
 * producer or consumer with `nameSpace` N sends topic T as "N%T", group G
 * as "N%G", retry topic %RETRY%G as "%RETRY%N%G" (and %DLQ% alike), and
 * leaves system topics (TBW102, SCHEDULE_TOPIC_XXXX, rmq_sys_*, ...) and
 * system groups (CID_RMQ_SYS_*) alone; what it hands back to the
 * application has N% taken off again. Pure functions, any thread.
 */
#ifndef RMQI_CLIENT_NS_H
#define RMQI_CLIENT_NS_H

#include "../util/common.h"

/* Room for any wrapped name: topics are at most 127 characters and
 * retry/DLQ topics 255 (Java's TopicValidator). */
#define RMQI_NS_NAME_MAX 320
/* Longest nameSpace accepted. */
#define RMQI_NS_MAX 64

/* TopicValidator.isSystemTopic: TBW102, SCHEDULE_TOPIC_XXXX, ...,
 * rmq_sys_*. */
bool rmqi_topic_is_system(const char *topic);
/* A topic or group that is never wrapped (Java isSystemResource). */
bool rmqi_ns_is_system(const char *res);

/* wrapNamespace(ns, res) into @p buf: returns @p res itself when nothing
 * changes (ns empty, res empty, a system resource, or already in ns),
 * @p buf with the wrapped name otherwise, NULL when it would not fit. */
const char *rmqi_ns_wrap(const char *ns, const char *res, char *buf, size_t n);
/* withoutNamespace(res, ns): returns @p res when it is not in @p ns,
 * @p buf with N% taken off otherwise (always fits: it is shorter). */
const char *rmqi_ns_unwrap(const char *ns, const char *res, char *buf,
                           size_t n);
/* Heap copies of the same (NULL on no memory or a name too long). */
char *rmqi_ns_wrap_dup(const char *ns, const char *res);
char *rmqi_ns_unwrap_dup(const char *ns, const char *res);

/* Java's getNamespace(): @p configured when set, else the instance id of
 * an endpoint namesrvAddr such as "http://MQ_INST_1_abc.host:80"
 * ("MQ_INST_1_abc"), else "". @p out has RMQI_NS_MAX + 1 bytes. */
void rmqi_ns_resolve(const char *configured, const char *namesrv_addr,
                     char out[RMQI_NS_MAX + 1]);
/* Java's getNamesrvAddr(): "http://host:port" is "host:port" (the text
 * after the last '/'); anything else is returned unchanged. */
const char *rmqi_ns_endpoint_addr(const char *namesrv_addr);

/* The conf check of `nameSpace`: [a-zA-Z0-9_|-], at most RMQI_NS_MAX. */
bool rmqi_ns_valid(const char *ns, char *err, size_t n);

#endif

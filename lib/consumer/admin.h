/* Admin requests about a consumer group, answered by its consumer
 * (admin.c); the client calls it through rmqi_consumer_admin_fn. */
#ifndef RMQI_CONSUMER_ADMIN_H
#define RMQI_CONSUMER_ADMIN_H

#include "lite_int.h"

void rmqi_lite_admin(void *arg, rmqi_conn_t *conn, rmqi_cmd_t *req,
                     const rmqi_hb_consumer_t *hb);

#endif

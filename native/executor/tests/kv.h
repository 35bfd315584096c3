/* kv.h: builds a serialised plan (uwsgi keyval body) in a test. */
#ifndef JAIL_TEST_KV_H
#define JAIL_TEST_KV_H
#include <stdint.h>
#include <string.h>

typedef struct {
        uint8_t buf[65536];
        size_t len;
} kv_t;

static inline void kv_add(kv_t *kv, const char *key, const char *val) {
        size_t k = strlen(key), v = strlen(val);
        kv->buf[kv->len++] = k & 0xff;
        kv->buf[kv->len++] = k >> 8;
        memcpy(kv->buf + kv->len, key, k);
        kv->len += k;
        kv->buf[kv->len++] = v & 0xff;
        kv->buf[kv->len++] = v >> 8;
        memcpy(kv->buf + kv->len, val, v);
        kv->len += v;
}
#endif

/* test-influx.c - unit tests for the writer's InfluxDB client: the write
 * URL for each API version and the gzip body. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "influx.h"

START_TEST(test_url_v1)
{
    influx_opts o = {.api_version = 1,
                     .url = "http://127.0.0.1:8086/",
                     .db = "home assistant",
                     .rp = "autogen"};
    char *u = influx_write_url(&o);
    ck_assert_str_eq(
        u, "http://127.0.0.1:8086/write?db=home%20assistant&rp=autogen&precision=ns");
    free(u);
    o.rp = NULL;
    u = influx_write_url(&o);
    ck_assert_str_eq(u, "http://127.0.0.1:8086/write?db=home%20assistant&precision=ns");
    free(u);
}
END_TEST

START_TEST(test_url_v2)
{
    influx_opts o = {.api_version = 2,
                     .url = "https://influx.example:8086/base",
                     .org = "my&org",
                     .bucket = "ha/raw",
                     .db = "ignored"};
    char *u = influx_write_url(&o);
    ck_assert_str_eq(
        u, "https://influx.example:8086/base/api/v2/write?org=my%26org&bucket=ha%2Fraw"
           "&precision=ns");
    free(u);
}
END_TEST

START_TEST(test_url_v3)
{
    influx_opts o = {.api_version = 3, .url = "http://h:8181", .db = "homeassistant"};
    char *u = influx_write_url(&o);
    ck_assert_str_eq(u, "http://h:8181/api/v2/write?bucket=homeassistant&precision=ns");
    free(u);
    o.bucket = "b";
    u = influx_write_url(&o);
    ck_assert_str_eq(u, "http://h:8181/api/v2/write?bucket=b&precision=ns");
    free(u);
}
END_TEST

START_TEST(test_gzip_roundtrip)
{
    size_t n = 100000;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = "m,t=a v=1 123\n"[i % 14];
    unsigned char *z = NULL;
    size_t zlen = 0;
    ck_assert_int_eq(influx_gzip(in, n, &z, &zlen), 0);
    ck_assert_uint_lt(zlen, n / 10);
    ck_assert_uint_eq(z[0], 0x1f); /* gzip magic */
    ck_assert_uint_eq(z[1], 0x8b);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    char *out = malloc(n + 16);
    zs.next_in = z;
    zs.avail_in = (uInt)zlen;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)(n + 16);
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(zs.total_out, n);
    ck_assert(memcmp(in, out, n) == 0);
    inflateEnd(&zs);
    free(out);
    free(z);
    free(in);
}
END_TEST

START_TEST(test_gzip_empty)
{
    unsigned char *z = NULL;
    size_t zlen = 0;
    ck_assert_int_eq(influx_gzip("", 0, &z, &zlen), 0);
    ck_assert_uint_gt(zlen, 10);
    free(z);
}
END_TEST

static Suite *influx_suite(void)
{
    Suite *s = suite_create("influx");
    TCase *tc = tcase_create("influx");
    tcase_add_test(tc, test_url_v1);
    tcase_add_test(tc, test_url_v2);
    tcase_add_test(tc, test_url_v3);
    tcase_add_test(tc, test_gzip_roundtrip);
    tcase_add_test(tc, test_gzip_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(influx_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

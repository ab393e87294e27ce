/* test-ha-url.c - ha_url: parsing HA_URL. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ha_url.h"

static const struct {
    const char *url;
    bool tls;
    const char *host;
    int port;
    const char *path;
    const char *host_header;
} good[] = {
    {"ws://homeassistant.local:8123/api/websocket", false, "homeassistant.local", 8123,
     "/api/websocket", "homeassistant.local:8123"},
    {"wss://ha.example.org/api/websocket", true, "ha.example.org", 443, "/api/websocket",
     "ha.example.org"},
    {"WSS://HA.example.org:443", true, "HA.example.org", 443, "/api/websocket",
     "HA.example.org"},
    {"http://10.0.0.5:8123", false, "10.0.0.5", 8123, "/api/websocket", "10.0.0.5:8123"},
    {"https://ha.example.org/", true, "ha.example.org", 443, "/api/websocket",
     "ha.example.org"},
    {"ws://[::1]:8123/api/websocket", false, "::1", 8123, "/api/websocket", "[::1]:8123"},
    {"ws://127.0.0.1:1/x?y=1", false, "127.0.0.1", 1, "/x?y=1", "127.0.0.1:1"},
    {"ws://h", false, "h", 80, "/api/websocket", "h"},
};

START_TEST(test_good)
{
    ha_url u;
    char err[128] = "";
    ck_assert_msg(ha_url_parse(good[_i].url, &u, err, sizeof(err)) == 0, "%s: %s",
                  good[_i].url, err);
    ck_assert_int_eq(u.tls, good[_i].tls);
    ck_assert_str_eq(u.host, good[_i].host);
    ck_assert_int_eq(u.port, good[_i].port);
    ck_assert_str_eq(u.path, good[_i].path);
    ck_assert_str_eq(u.host_header, good[_i].host_header);
}
END_TEST

static const char *const bad[] = {
    "",
    "homeassistant.local:8123",
    "ftp://h/",
    "ws://",
    "ws://:8123/",
    "ws://h:0/",
    "ws://h:65536/",
    "ws://h:80x/",
    "ws://h:/",
    "ws://user:pw@h/",
    "ws://[::1/",
    "ws://[zz]/",
    "ws://h/a#frag",
    "ws://h/a b",
    "ws://ho st/",
    "ws://h?x=1",
};

START_TEST(test_bad)
{
    ha_url u;
    char err[128] = "";
    ck_assert_msg(ha_url_parse(bad[_i], &u, err, sizeof(err)) == -1, "accepted %s",
                  bad[_i]);
    ck_assert(err[0] != '\0');
}
END_TEST

START_TEST(test_null)
{
    ha_url u;
    char err[64];
    ck_assert_int_eq(ha_url_parse(NULL, &u, err, sizeof(err)), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ha-url");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_good, 0, (int)(sizeof(good) / sizeof(good[0])));
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

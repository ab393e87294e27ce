/* main.c - homestream-ingestor: Home Assistant WebSocket events into Kafka. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hs_config.h"
#include "hs_log.h"
#include "hs_mem.h"
#include "ingest.h"

/* The one mutable global: set by the signal handler, read by the loop. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char summary[] =
    "Reads Home Assistant events over its WebSocket API and produces them to the\n"
    "raw Kafka topic (TOPIC_RAW), keyed by entity id.";

int main(int argc, char **argv)
{
    (void)hs_mem_tune(); /* before any thread starts; see hs_mem.h */
    struct ingestor_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    int args = hs_cfg_handle_args(argc, argv, "homestream-ingestor", summary,
                                  ingestor_config_vars, ingestor_config_nvars, &cfg);
    if (args != HS_CFG_ARGS_RUN) {
        hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &cfg);
        return args == HS_CFG_ARGS_EXIT_OK ? 0 : 1;
    }
    char err[512];
    if (hs_cfg_load(ingestor_config_vars, ingestor_config_nvars, &cfg, NULL, NULL, err,
                    sizeof(err)) != 0) {
        fprintf(stderr, "homestream-ingestor: %s\n", err);
        hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &cfg);
        return 1;
    }
    hs_log_level level = HS_LOG_INFO;
    hs_log_level_parse(cfg.common.log_level, &level);
    if (hs_log_setup("ingestor", level, cfg.common.log_format) != 0) {
        fprintf(stderr, "homestream-ingestor: LOG_FORMAT: unknown format\n");
        hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &cfg);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    ingest *in = ingest_new(&cfg, err, sizeof(err));
    if (in == NULL) {
        hs_error("main", "cannot start: %s", err);
        fprintf(stderr, "homestream-ingestor: %s\n", err);
        hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &cfg);
        return 1;
    }
    int rc = ingest_run(in, &stop_requested);
    ingest_free(in);
    hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &cfg);
    return rc;
}

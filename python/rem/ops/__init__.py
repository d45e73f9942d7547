"""Running REM unattended: the systemd timer and crontab line (:mod:`.schedule`),
the cron daemon (:mod:`.daemon`), the machine's readiness and the yield watcher
(:mod:`.readiness`), health checks (:mod:`.doctor`) and maintenance (:mod:`.maintenance`)."""

-- The latest minute any window job has written: every window before its end is final (a window is
-- written once the watermark passed it).
SELECT max(window_start) + INTERVAL '1 minute' FROM service_minute_stats

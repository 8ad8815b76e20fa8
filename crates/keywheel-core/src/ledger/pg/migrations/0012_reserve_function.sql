-- Version 12 (the number of ledger/migrations/0012_reserve_function.sql, a no-op there): a
-- reservation's common case in one round trip (ledger/pg/reserve.rs, "The fast path").
--
-- `keywheel_reserve` is called as one statement in its own implicit transaction. It takes the
-- locks the locked transaction takes (the rows of the key's account's keys, `FOR UPDATE`, in
-- id order), then reads — each statement of a VOLATILE function takes a new snapshot under
-- READ COMMITTED, so the read sees every commit made before the locks were held — and grants
-- only when every rule of ledger/reserve.rs (`evaluate`, `decide`) certainly allows it and the
-- key's day row exists. Otherwise it returns no row and changes nothing, and the caller runs
-- the locked transaction, which decides (and words) every refusal. It is stricter than the
-- rules, never looser: a status other than 'ok' that has not expired, a cap of 0 or below,
-- a locked key set that differs from the one read, and a missing day row all fall back.
--
-- The request row carries the caller's random `token`, so a caller whose answer was lost can
-- find out, once the backend that ran the call is gone, whether it was granted.
ALTER TABLE requests ADD COLUMN token BIGINT;

CREATE FUNCTION keywheel_reserve(
    p_key TEXT, p_given_ms BIGINT, p_instance TEXT, p_kind TEXT, p_model TEXT,
    p_daily BIGINT, p_minute BIGINT, p_tier BOOLEAN, p_token BIGINT)
RETURNS TABLE (r_id BIGINT, r_account TEXT, r_day TEXT)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    locked TEXT[];
    v_ms BIGINT;
    v_day TEXT;
    v_account TEXT;
    v_ring BYTEA;
    v_ok BOOLEAN;
BEGIN
    -- The locks, in id order (the same statement as the locked transaction's).
    SELECT array_agg(s.id ORDER BY s.id) INTO locked FROM (
        SELECT k.id FROM keys k
        WHERE COALESCE(k.account, k.id) = (SELECT COALESCE(account, id) FROM keys WHERE id = p_key)
        ORDER BY k.id FOR UPDATE) s;
    IF locked IS NULL THEN
        RETURN;
    END IF;
    -- A new snapshot: the state after the locks. "now" and the UTC day as clock::day_key
    -- computes them (whole days since the epoch); the window reaches into yesterday's rows in
    -- the first minute of a day.
    WITH t AS (
        SELECT COALESCE(p_given_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) AS ms),
    d AS (
        SELECT ms,
               to_char(date '1970-01-01' + (ms / 86400000)::int, 'YYYY-MM-DD') AS day,
               to_char(date '1970-01-01' + (ms / 86400000)::int - 1, 'YYYY-MM-DD') AS yesterday,
               ms - 60000 < (ms / 86400000) * 86400000 AS reaches,
               int8send(ms - 60000) AS lo, int8send(ms) AS hi
        FROM t),
    me AS (
        SELECT k.*, COALESCE(k.account, k.id) AS acct, k.account IS NULL AS own
        FROM keys k WHERE k.id = p_key),
    -- The account's keys' day rows the rules read: today's (counts and rings) and, when the
    -- window reaches back, yesterday's (rings).
    dayrows AS (
        SELECT u.key_id = p_key AS mine, u.day = d.day AS today,
               GREATEST(u.requests, 0) AS requests, COALESCE(u.win, ''::bytea) AS win
        FROM me CROSS JOIN d
             JOIN keys k ON COALESCE(k.account, k.id) = me.acct
             JOIN usage_daily u ON u.key_id = k.id AND (u.day = d.day OR (d.reaches AND u.day = d.yesterday))),
    -- Every ring's times, one per row (8-byte big-endian; a trailing partial chunk is
    -- ignored, as ring_of_bytes does). Times are after the epoch, so their bytes compare as
    -- the numbers do.
    tms AS (
        SELECT r.mine, substring(r.win FROM i * 8 + 1 FOR 8) AS t
        FROM dayrows r CROSS JOIN LATERAL generate_series(0, length(r.win) / 8 - 1) i),
    st AS (
        SELECT me.*, d.*, a.daily_cap AS a_daily, a.minute_cap AS a_minute,
               a.exhausted_until AS a_exhausted, COALESCE(a.no_credit, FALSE) AS a_no_credit,
               CASE WHEN p_tier AND a.tier_cap IS NOT NULL THEN a.tier_cap ELSE p_daily END AS default_daily,
               GREATEST(CASE WHEN a.remote_day = d.day THEN a.extra_requests ELSE 0 END, 0) AS extra,
               (SELECT array_agg(k.id ORDER BY k.id) FROM keys k WHERE COALESCE(k.account, k.id) = me.acct) AS ids,
               (SELECT u.win FROM usage_daily u WHERE u.key_id = p_key AND u.day = d.day) AS ring,
               (SELECT GREATEST(u.requests, 0) FROM usage_daily u WHERE u.key_id = p_key AND u.day = d.day) AS key_today,
               (SELECT COALESCE(SUM(r.requests), 0) FROM dayrows r WHERE r.today) AS account_today,
               (SELECT count(*) FROM tms x WHERE x.mine AND x.t > d.lo AND x.t <= d.hi) AS key_inside,
               (SELECT count(*) FROM tms x WHERE x.t > d.lo AND x.t <= d.hi) AS account_inside
        FROM me CROSS JOIN d LEFT JOIN accounts a ON a.name = me.acct),
    caps AS (
        SELECT st.*,
               COALESCE(st.daily_cap, st.default_daily) AS k_daily,
               COALESCE(st.minute_cap, p_minute) AS k_minute
        FROM st),
    caps2 AS (
        SELECT caps.*,
               COALESCE(caps.a_daily, CASE WHEN caps.own THEN caps.k_daily ELSE caps.default_daily END) AS acct_daily,
               COALESCE(caps.a_minute, CASE WHEN caps.own THEN caps.k_minute ELSE p_minute END) AS acct_minute
        FROM caps)
    SELECT c.ms, c.day, c.acct,
           -- The ring a grant writes (ledger/reserve.rs, granted_ring): the times after
           -- now - 60 s, in order, then now.
           COALESCE((SELECT string_agg(e, ''::bytea ORDER BY i)
                     FROM (SELECT i, substring(c.ring FROM i * 8 + 1 FOR 8) AS e
                           FROM generate_series(0, length(c.ring) / 8 - 1) i) s
                     WHERE e > c.lo AND get_byte(e, 0) < 128), ''::bytea) || c.hi,
           c.key_today IS NOT NULL
           AND c.ids = locked
           AND c.enabled
           AND (c.status = 'ok' OR (c.status_until IS NOT NULL AND c.status_until <= c.ms))
           AND NOT c.a_no_credit
           AND c.k_daily > 0 AND c.key_today < c.k_daily
           AND c.acct_daily > 0 AND c.account_today + c.extra < c.acct_daily
           AND (c.a_exhausted IS NULL OR c.a_exhausted <= c.ms)
           AND c.k_minute > 0 AND c.key_inside < c.k_minute
           AND c.acct_minute > 0 AND c.account_inside < c.acct_minute
           AND c.ms >= 60000
    INTO v_ms, v_day, v_account, v_ring, v_ok
    FROM caps2 c;
    IF v_ok IS NOT TRUE THEN
        RETURN;
    END IF;
    -- The grant: the day row's count and ring, and the request row (its `via` named, so the
    -- migration-9 trigger does not run).
    RETURN QUERY
    WITH u AS (
        UPDATE usage_daily SET requests = requests + 1, win = v_ring
        WHERE key_id = p_key AND day = v_day
        RETURNING 1)
    INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind, model_asked, via, token)
    SELECT p_instance, p_key, v_account, v_day, v_ms, p_kind, p_model,
           (SELECT kind FROM instances WHERE id = p_instance), p_token
    FROM u
    RETURNING id, account, day;
END
$fn$;

-- Pinterest's spend comes from its Ads API only: a CSV line of channel 'pinterest' was added to it (issue 21). Such
-- lines already loaded leave raw.channel_spend for ops.record_issues (named by file and line, as the loader now
-- refuses them), and the table refuses them from now on.
INSERT INTO ops.record_issues (source, record_key, field, reason, raw_value)
SELECT 'channel_spend.csv', source_file || ':' || source_line, 'channel',
       'Pinterest''s spend comes from the Pinterest Ads API, never from a CSV file', channel
FROM raw.channel_spend
WHERE lower(channel) = 'pinterest'
ON CONFLICT DO NOTHING;
DELETE FROM raw.channel_spend WHERE lower(channel) = 'pinterest';
ALTER TABLE raw.channel_spend ADD CONSTRAINT channel_spend_not_pinterest CHECK (lower(channel) <> 'pinterest');

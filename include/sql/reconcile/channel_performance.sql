-- Pinterest vs other channels on one metric: per channel (mart.deal_attribution.channel_name) and period, spend
-- (Pinterest: the ad accounts' spend; others: raw.channel_spend), leads (deals created in the period), won (deals won
-- in it), revenue (home currency) and CAC. Spend in two currencies within one channel and period is never added:
-- spend, its currency and CAC are NULL there. Rebuilt whole every run (a few rows per channel and day).
DELETE FROM mart.channel_performance;

INSERT INTO mart.channel_performance (
    channel_name, period, period_start, period_end, spend, spend_currency, leads, won, revenue, revenue_currency, cac
)
WITH crm_days AS (
    SELECT deal.channel_name, event.day, sum(event.leads) AS leads, sum(event.won) AS won, sum(event.revenue) AS revenue
    FROM mart.deal_attribution AS deal
    CROSS JOIN LATERAL (
        VALUES (deal.lead_day, 1, 0, 0::numeric),
               (deal.won_day, 0, 1, COALESCE(deal.amount_home, 0))
    ) AS event (day, leads, won, revenue)
    WHERE deal.channel_name IS NOT NULL AND event.day IS NOT NULL
    GROUP BY deal.channel_name, event.day
),
crm AS (
    SELECT crm_days.channel_name, periods.period, mart.period_start(periods.period, crm_days.day) AS period_start,
           sum(crm_days.leads)::integer AS leads, sum(crm_days.won)::integer AS won, sum(crm_days.revenue) AS revenue
    FROM crm_days
    CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period)
    GROUP BY 1, 2, 3
),
spend_lines AS (
    SELECT 'pinterest' AS channel_name, performance.period, performance.period_start, performance.spend,
           performance.spend_currency AS currency
    FROM mart.performance
    WHERE performance.grain = 'account' AND performance.ad_days > 0
    UNION ALL
    SELECT lower(channel_spend.channel), periods.period, mart.period_start(periods.period, channel_spend.day),
           channel_spend.spend, channel_spend.currency
    FROM raw.channel_spend
    CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period)
),
spend AS (
    SELECT channel_name, period, period_start,
           CASE WHEN count(DISTINCT currency) = 1 THEN sum(spend) END AS spend,
           CASE WHEN count(DISTINCT currency) = 1 THEN min(currency) END AS spend_currency
    FROM spend_lines
    GROUP BY 1, 2, 3
)
SELECT channel_name, period, period_start, mart.period_end(period, period_start),
       spend.spend, spend.spend_currency, COALESCE(crm.leads, 0), COALESCE(crm.won, 0), COALESCE(crm.revenue, 0),
       %(home_currency)s, mart.cac(spend.spend, crm.won)
FROM crm
FULL JOIN spend USING (channel_name, period, period_start);

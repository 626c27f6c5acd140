# Reset plans, top-ups and expiry from the first connection (the user card).
plan-none = never
plan-day = daily
plan-week = weekly
plan-month = monthly
plan-rolling = every 30 days
period-never-ends = never (a total allowance)
usage-topup = {" "}(incl. top-up { $topup })
expiry-at-first-connection = starts at first connection ({ $days } d)
card-period = Usage resets: { $plan } · Period ends: { $end }
btn-plan = 🔁 Plan
btn-plan-default = Default ({ $plan })
btn-topup = +{ $gb } GiB
btn-extend-from-connection = +{ $days } d from 1st connection
plans-menu = Choose when this user's usage restarts, or add traffic to this period only (a top-up ends with the period):
topup-added = +{ $gb } GiB added to this period

# /usage and the summary at the end of a period.
cmd-usage = Your traffic
usage-now =
    📊 <b>Your traffic</b>
    This period: { $used } of { $quota }{ $topup }
    Usage resets: { $plan } · Period ends: { $end }
    Access until: { $expires }
usage-members-only = /usage shows your traffic once you have access.
usage-summary = 📊 A new period has started. Last period you used { $used }.
usage-summary-of = 📊 A new period has started. Last period you used { $used } of { $allowed }.

# Reminders (src/use-cases/reminders.ts): a device that never connected, and the admins' weekly digest.
never-connected = 👋 Your device <b>{ $name }</b> has not connected to the VPN yet. Here is how to set it up; the button sends its configuration again.
never-connected-btn-config = 📦 Send the configuration again
weekly-digest-title = 📊 <b>Weekly digest</b> · { $from } – { $to }
weekly-digest-joined = 🆕 <b>New users:</b> { $count }
weekly-digest-top = 📈 <b>Most traffic this week:</b>
weekly-digest-none = —
weekly-digest-never = 💤 <b>Never connected:</b> { $count }
weekly-digest-expiring = ⏳ <b>Expiring in the week ahead:</b> { $count }

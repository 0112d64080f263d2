"""Mail: `messages` builds the mails (text + HTML from templates/mail/), `backends` delivers
them (Maildir file, SMTP or console). The Huey task that sends report mails lives with the
other tasks in checker/; it calls `messages.build_report()` and `backends.send()`.
"""

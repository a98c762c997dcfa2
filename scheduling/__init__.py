"""The product rules of SPEC.md, pure: no database sessions, no HTTP, no GraphQL, no web framework.

Where each rule lives (resolvers load what a rule needs, call it and write the result):

- connection_rules  Connecting a calendar: permission, personal inboxes only, one account per user
                    (two before LEGACY_DUAL_ACCOUNT_CUTOFF), defaults after connecting, Exchange input
- calendars         Provider kinds, capabilities (the Exchange limitations), access roles, lost access
- settings_rules    Calendar settings, validated as a whole; removing inactive calendars
- licences          Seats and the paid features they include (task sync, meeting URL prefix)
- page_rules        Scheduling pages: fields, limits, slugs (prefix for future pages, unique everywhere)
- booking_rules     Page state (active, offline), slot rules, what refuses a booking
- slots             Offered slots: weekly hours in the page's zone minus busy time, buffer and notice
- meeting_rules     CRM meetings (which become invitations), cancelling, CRM tasks in the sub-calendar
- errors            The typed expected failures every rule raises
- validation        Input formats: emails, slugs, host names, time zones, ids, ranges
"""

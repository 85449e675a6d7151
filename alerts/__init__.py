"""Area alerts and feeds (issue 9, item 4): subscriptions to new and resolved public
reports in a commune, a drawn area or a radius, sent by e-mail, SMS or Web Push; Atom
and RSS feeds of every area, every report and a radius. Nothing imports this app."""

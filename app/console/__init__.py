"""The duty officers' web console under ``/console`` (issue 9): a client of the same services as the API.

Server-rendered Jinja2 pages with a little plain JavaScript (map, timeline tooltips, in-browser
signing and receipt verification); every read goes through ``app.documents.reading`` and every
acknowledgement through the API's submission path. See ``docs/console.md``.
"""

"""The submission paths of ``POST /v1/documents`` and of the console's acknowledgement form.

``submit_signed`` (the API) hands the JWS to the submission batcher, which parses, validates and
verifies a whole batch stage by stage before its group commit (``SubmissionBatcher._take_in``).
``take_in`` + ``submit`` (the console) check one submission here first. Either way the checks run
on the event loop: they are pure CPU work of well under a millisecond, and a thread hop would
cost about as much. The signing key comes from the process's ``KeyCache`` (a database read only
on a miss). The stored outcome and its receipt come from the batcher (group commit, then a signed
checkpoint covering the entry).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from app.auth.service import Principal
from app.db import utcnow
from app.documents import intake as intake_module
from app.documents.batcher import Outcome, SignedSubmission
from app.participants.keycache import KeyCache

__all__ = ["take_in", "submit", "submit_signed"]


async def take_in(request: Request, principal: Principal, raw: str) -> intake_module.Intake:
    """Parse, validate and verify a submitted JWS; raises problem errors naming what is wrong."""
    unverified = intake_module.read(principal, raw, max_size=request.app.state.settings.max_body_bytes)
    keys: KeyCache = request.app.state.key_cache
    key = keys.cached(unverified.kid) or await run_in_threadpool(keys.load, unverified.kid)
    return intake_module.verify(unverified, key, utcnow())


async def submit(request: Request, intake: intake_module.Intake) -> Outcome:
    """Store the submission (with its log leaf and feed event); returns once it has a receipt."""
    return await request.app.state.submission_batcher.submit(intake)


async def submit_signed(request: Request, principal: Principal, raw: str) -> Outcome:
    """Check and store a submitted JWS in the batcher; raises the problem that refuses it."""
    client = request.scope.get("client")
    signed = SignedSubmission(
        principal, raw, request.app.state.settings.max_body_bytes, tuple(client) if client else None
    )
    return await request.app.state.submission_batcher.submit_signed(signed)

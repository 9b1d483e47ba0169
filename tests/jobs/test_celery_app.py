"""The Celery executor's settings are spelt as Celery reads them."""

from __future__ import annotations

from forager import jobs


def test_every_celery_setting_is_one_celery_knows() -> None:
    from celery.app.defaults import DEFAULTS

    config = jobs.celery_config()
    assert config["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert [k for k in config if k not in DEFAULTS] == []

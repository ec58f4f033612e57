"""The Celery application: broker and settings from Django's settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("glassbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

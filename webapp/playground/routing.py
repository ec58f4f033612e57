"""Websocket URL routes of the playground."""

from django.urls import path

from .consumers import GenerationConsumer

websocket_urlpatterns = [path("ws/generate/", GenerationConsumer.as_asgi())]

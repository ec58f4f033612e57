from django.urls import path

from . import views

app_name = "playground"
urlpatterns = [
    path("", views.playground, name="page"),
    path("inside/", views.inside, name="inside"),
]

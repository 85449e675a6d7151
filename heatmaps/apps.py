from django.apps import AppConfig


class HeatmapsConfig(AppConfig):
    name = "heatmaps"
    verbose_name = "Bản đồ nhiệt và thống kê"

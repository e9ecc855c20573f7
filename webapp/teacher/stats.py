"""Campaign statistics for head teachers: the funnel, overdue students, Excel exports."""

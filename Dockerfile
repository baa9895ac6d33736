# The Airflow image with pin2deal's pinned dependencies (docker-compose.yaml builds it).
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/pin2deal/
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/pin2deal/requirements.txt -c /opt/pin2deal/constraints.txt

-- Run once by the postgres image on first start: the pin2deal warehouse beside Airflow's metadata DB.
CREATE DATABASE pin2deal OWNER airflow;

# segstream for docker-compose users: the same Debian packages and build as tools/setup.sh.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      librdkafka-dev libmsgpack-dev liblmdb-dev libcmocka-dev libcsv-dev zlib1g-dev libcjson-dev libinih-dev libxlsxwriter-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j --target segstream

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends librdkafka1 libmsgpackc2 liblmdb0 libcsv3 libcjson1 libinih1 libxlsxwriter4 zlib1g \
      && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/tools/segstream /usr/local/bin/segstream
COPY data/instacart /usr/share/segstream/instacart
WORKDIR /var/lib/segstream
ENTRYPOINT ["segstream"]

from robson_dashboard.main import build_service


def main() -> None:
    build_service().run()


if __name__ == "__main__":
    main()

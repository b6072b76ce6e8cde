using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AiProxy.EntityFrameworkCore.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class InitialCreate : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "aiproxy_audit",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    actor = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    action = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    target = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    before = table.Column<string>(type: "TEXT", nullable: true),
                    after = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aiproxy_audit", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "aiproxy_daily_usage",
                columns: table => new
                {
                    day = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    caller = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    provider = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    model = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    requests = table.Column<long>(type: "INTEGER", nullable: false),
                    input_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    output_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    total_tokens = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aiproxy_daily_usage", x => new { x.day, x.caller, x.provider, x.model });
                });

            migrationBuilder.CreateTable(
                name: "aiproxy_store_version",
                columns: table => new
                {
                    id = table.Column<int>(type: "INTEGER", nullable: false),
                    version = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aiproxy_store_version", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "aiproxy_tokens",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    name = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    key_sha256 = table.Column<string>(type: "TEXT", unicode: false, maxLength: 64, nullable: false),
                    key_prefix = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    is_admin = table.Column<bool>(type: "INTEGER", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    allowed_models = table.Column<string>(type: "TEXT", nullable: false),
                    allowed_paths = table.Column<string>(type: "TEXT", nullable: false),
                    allowed_providers = table.Column<string>(type: "TEXT", nullable: false),
                    requests_per_minute = table.Column<int>(type: "INTEGER", nullable: true),
                    tokens_per_minute = table.Column<int>(type: "INTEGER", nullable: true),
                    max_concurrent_requests = table.Column<int>(type: "INTEGER", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aiproxy_tokens", x => x.id);
                });

            migrationBuilder.InsertData(
                table: "aiproxy_store_version",
                columns: new[] { "id", "version" },
                values: new object[] { 1, 0L });

            migrationBuilder.CreateIndex(
                name: "IX_aiproxy_audit_target",
                table: "aiproxy_audit",
                column: "target");

            migrationBuilder.CreateIndex(
                name: "IX_aiproxy_tokens_key_sha256",
                table: "aiproxy_tokens",
                column: "key_sha256",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_aiproxy_tokens_name",
                table: "aiproxy_tokens",
                column: "name",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "aiproxy_audit");

            migrationBuilder.DropTable(
                name: "aiproxy_daily_usage");

            migrationBuilder.DropTable(
                name: "aiproxy_store_version");

            migrationBuilder.DropTable(
                name: "aiproxy_tokens");
        }
    }
}

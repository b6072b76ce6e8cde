using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AiProxy.EntityFrameworkCore.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class UsageCost : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "cost_nanodollars",
                table: "aiproxy_daily_usage",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "unpriced_requests",
                table: "aiproxy_daily_usage",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "cost_nanodollars",
                table: "aiproxy_daily_usage");

            migrationBuilder.DropColumn(
                name: "unpriced_requests",
                table: "aiproxy_daily_usage");
        }
    }
}
